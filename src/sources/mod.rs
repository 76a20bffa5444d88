//! Where eligibility comes from. Files (CSV and JSON) are read here; LDAP and Microsoft Graph
//! sources will sit beside them behind one trait once campaigns enumerate through it.

pub mod file;
