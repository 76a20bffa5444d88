//! A real OpenLDAP slapd for tests, started on a free port with its own configuration and data.
