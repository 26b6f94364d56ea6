//! Tests of the registrar with real REGISTERs.
