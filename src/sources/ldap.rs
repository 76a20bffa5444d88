//! The LDAP source: people from a base and filter, eligibility as group membership.
