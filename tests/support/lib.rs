//! What Canopy's test binaries share: the app wiring and token minting ([`app`]), the worlds a
//! scenario runs in and the macro that runs it in each of them ([`world`], [`scenarios!`]), the
//! DynamoDB Local and S3 helpers, and the fault-injecting proxies.

pub mod app;
pub mod contention;
pub mod counting;
pub mod dynamo;
pub mod items;
pub mod media;
pub mod processes;
pub mod repo;
pub mod throttle;
pub mod world;

/// One `#[tokio::test]` per scenario and world. The suite defines `mod scenarios { pub async fn
/// <case>(World) }` and `async fn world(…) -> World`; each world becomes a module of that name
/// whose tests call `world(<its arguments>)`:
///
/// ```text
/// scenarios!(stores: [case, …]);              // embedded, dynamo: world(Store)
/// scenarios!(stores and schemes: [case, …]);  // embedded, dynamo, embedded_forge, dynamo_forge: world(Store, Scheme)
/// scenarios!(media: [case, …]);               // local, s3: world(Media)
/// scenarios!(media and schemes: [case, …]);   // local, s3, local_forge, s3_forge: world(Media, Scheme)
/// scenarios!(worlds: [name(args…), …], cases: [case, …]);  // any other set
/// ```
#[macro_export]
macro_rules! scenarios {
    (stores: $cases:tt) => {
        $crate::scenarios!(worlds: [
            embedded($crate::world::Store::Embedded),
            dynamo($crate::world::Store::Dynamo),
        ], cases: $cases);
    };
    (stores and schemes: $cases:tt) => {
        $crate::scenarios!(worlds: [
            embedded($crate::world::Store::Embedded, $crate::world::Scheme::Connect),
            dynamo($crate::world::Store::Dynamo, $crate::world::Scheme::Connect),
            // The same scenarios with every caller authenticated by a Forge Invocation Token.
            embedded_forge($crate::world::Store::Embedded, $crate::world::Scheme::Forge),
            dynamo_forge($crate::world::Store::Dynamo, $crate::world::Scheme::Forge),
        ], cases: $cases);
    };
    (media: $cases:tt) => {
        $crate::scenarios!(worlds: [
            local($crate::world::Media::Local),
            s3($crate::world::Media::S3),
        ], cases: $cases);
    };
    (media and schemes: $cases:tt) => {
        $crate::scenarios!(worlds: [
            local($crate::world::Media::Local, $crate::world::Scheme::Connect),
            s3($crate::world::Media::S3, $crate::world::Scheme::Connect),
            local_forge($crate::world::Media::Local, $crate::world::Scheme::Forge),
            s3_forge($crate::world::Media::S3, $crate::world::Scheme::Forge),
        ], cases: $cases);
    };
    (worlds: [$($world:ident $args:tt),+ $(,)?], cases: $cases:tt) => {
        $( $crate::scenarios!(@world $world $args $cases); )+
    };
    (@world $world:ident $args:tt [$($case:ident),+ $(,)?]) => {
        mod $world {
            $(
                #[tokio::test]
                async fn $case() {
                    super::scenarios::$case(super::world $args.await).await;
                }
            )+
        }
    };
}
