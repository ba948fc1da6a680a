pub mod app;
pub mod counting;
pub mod dynamo;
pub mod media;
