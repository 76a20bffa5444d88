//! The LDAP source against a real OpenLDAP slapd the tests start (see common::slapd).
