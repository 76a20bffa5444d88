//! The Microsoft Entra PIM source through Microsoft Graph v1.0.
