//! The conformance suite, once per backend.

mod memory {
    use std::sync::Arc;

    use ticketing_core::memory::MemoryStore;
    use ticketing_core::store::Store;
    use ticketing_storage::testkit::Backend;

    fn backend() -> Backend {
        Backend::new("memory", |clock| async move { Arc::new(MemoryStore::new(clock)) as Arc<dyn Store> })
    }

    ticketing_storage::conformance_suite!(backend, 200);
}
