//! Checks of the deployment package in `deploy/` against the code: the
//! container file's structure, the compose file's wiring, the Kubernetes
//! manifests' cross-references, the Grafana dashboard's metric names, the
//! alert rules (`promtool check rules`, `promtool test rules`) and the
//! systemd unit (`systemd-analyze verify`).
//!
//! Nothing here runs a container engine or a cluster: the names, ports, paths
//! and files each artefact refers to are read from the code and the other
//! artefacts at test time, so a renamed metric, route or port fails here.
//! External tools (promtool, systemd-analyze, hadolint) follow the interop
//! tests' rule: missing, the test is skipped and logged, unless
//! `ALARMGATE_REQUIRE_PEERS=1`, when it fails.

mod common;
mod compose;
mod container;
mod dashboard;
mod k8s;
mod rules;
