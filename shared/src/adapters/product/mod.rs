//! Clients of the Atlassian products (Connect and Forge), signed as the app.

pub mod connect;
pub mod forge;
pub mod report_accounts;
pub mod route;
pub mod site_probe;
