pub mod app;
pub mod dynamo;
