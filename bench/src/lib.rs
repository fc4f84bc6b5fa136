//! ward's benchmarks (the `ward-bench` binary, `benches/`). This library holds
//! only what the benchmarks share with the integration tests (`tests/all`), so
//! that both sides use one definition of it.

pub mod jwt_fixtures;
