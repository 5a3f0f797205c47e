//! What the SCRAM credential APIs (DescribeUserScramCredentials,
//! AlterUserScramCredentials) see of the broker: the credential store and
//! the authorizer that guards it, nothing else.

use super::RequestContext;
use crate::security::credentials::ScramStore;
use crate::security::{Access, Authorizer};

/// The SCRAM credential handlers' view of the broker state.
#[derive(Clone, Copy)]
pub struct ScramContext<'a> {
    authorizer: &'a Authorizer,
    store: &'a ScramStore,
}

impl<'a> ScramContext<'a> {
    /// A view over the authorizer and the credential store of one broker state.
    pub(crate) fn new(authorizer: &'a Authorizer, store: &'a ScramStore) -> ScramContext<'a> {
        ScramContext { authorizer, store }
    }

    /// The authorizer, for the request `ctx`.
    pub fn access<'c>(&'c self, ctx: &'c RequestContext) -> Access<'c> {
        Access::new(self.authorizer, ctx)
    }

    /// The stored credentials.
    pub fn store(&self) -> &'a ScramStore {
        self.store
    }
}
