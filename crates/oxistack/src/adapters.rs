//! What is left between the services once they meet through contracts
//! (`oxistack_contracts`, implemented by the providers themselves): the
//! metadata service asks compute about instances, but the network data
//! plane that serves metadata is built before the compute service exists.
//! So the data plane gets this late-bound source, and compute is set into
//! it once built; until then every instance is unknown.

use std::sync::{Arc, OnceLock};

use futures_util::future::BoxFuture;
use oxistack_metadata::{InstanceMetadata, MetadataSource};

#[derive(Default)]
pub struct LateMetadata(OnceLock<Arc<dyn MetadataSource>>);

impl LateMetadata {
    /// Answers from `source` from now on; only the first call counts.
    pub fn set(&self, source: Arc<dyn MetadataSource>) {
        let _ = self.0.set(source);
    }
}

impl MetadataSource for LateMetadata {
    fn instance_metadata<'a>(
        &'a self,
        instance_id: &'a str,
    ) -> BoxFuture<'a, Option<InstanceMetadata>> {
        Box::pin(async move {
            match self.0.get() {
                Some(source) => source.instance_metadata(instance_id).await,
                None => None,
            }
        })
    }
}
