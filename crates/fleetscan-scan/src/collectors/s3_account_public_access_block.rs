//! The account-wide S3 Block Public Access setting (S3 Control
//! `GetPublicAccessBlock`), which overrides what each bucket says.

use fleetscan_store::rows::{Row, S3AccountPublicAccessBlockRow};
use futures::FutureExt;

use super::{CollectorSpec, Scope, UnitContext, UnitError};
use crate::classify::{ErrorClass, classify};

pub const SPEC: CollectorSpec = CollectorSpec {
    name: "s3_account_public_access_block",
    scope: Scope::Global,
    actions: &["s3:GetAccountPublicAccessBlock"],
    collect: |unit| collect(unit).boxed(),
};

async fn collect(unit: &UnitContext<'_>) -> Result<(), UnitError> {
    let account_id = unit.session.account_id.clone();
    unit.call();
    let answer = unit
        .session
        .s3control()
        .get_public_access_block()
        .account_id(&account_id)
        .send()
        .await;
    let mut row = S3AccountPublicAccessBlockRow {
        account_id,
        ..Default::default()
    };
    match answer {
        Ok(out) => {
            if let Some(block) = out.public_access_block_configuration() {
                row.block_public_acls = block.block_public_acls();
                row.ignore_public_acls = block.ignore_public_acls();
                row.block_public_policy = block.block_public_policy();
                row.restrict_public_buckets = block.restrict_public_buckets();
            }
        }
        Err(err) => {
            let failure = classify(&err);
            // Not configured: a row of NULLs says so.
            if failure.class != ErrorClass::NotConfigured {
                return Err(failure.into());
            }
        }
    }
    unit.emitter
        .emit(Row::S3AccountPublicAccessBlock(row))
        .await
}
