//! The registrar for operators' softphones (pure, sans-IO): REGISTER with
//! digest authentication, several bindings per operator, expiry, OPTIONS
//! keep-alives and blocking of sources with repeated authentication failures.
