/// One `#[tokio::test]` per scenario for a world (a store adapter, an auth scheme…): the test
/// file defines `async fn <world>() -> World` and `mod scenarios { pub async fn <case>(World) }`.
#[allow(unused_macros)]
macro_rules! scenarios_for {
    ($world:ident, $($case:ident),+ $(,)?) => {
        mod $world {
            $(
                #[tokio::test]
                async fn $case() {
                    super::scenarios::$case(super::$world().await).await;
                }
            )+
        }
    };
}

pub mod app;
pub mod contention;
pub mod counting;
pub mod dynamo;
pub mod media;
pub mod processes;
pub mod throttle;
