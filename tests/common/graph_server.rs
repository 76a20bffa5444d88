//! A local server speaking the documented Microsoft Graph v1.0 and identity-platform token shapes,
//! for tests: paging, throttling, token expiry and failing removals on demand.
