//! One module per AWS service the fake speaks.

pub(crate) mod ec2;
pub(crate) mod organizations;
pub(crate) mod s3;
pub(crate) mod sts;
