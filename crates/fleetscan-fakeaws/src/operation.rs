//! The operations the fake serves, named `service:Operation` in stats, fault
//! filters and JSON.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

macro_rules! operations {
    ($($variant:ident => $name:literal, $service:ident;)*) => {
        /// One API operation of one service. Displayed (and serialized) as
        /// `service:Operation`, e.g. `ec2:DescribeInstances`; S3 Control's
        /// account-level call is `s3control:GetPublicAccessBlock`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Operation {
            $(#[doc = $name] $variant,)*
        }

        impl Operation {
            /// Every operation, in declaration order.
            pub const ALL: &'static [Operation] = &[$(Operation::$variant,)*];

            /// `service:Operation`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Operation::$variant => $name,)*
                }
            }

            /// The service this operation belongs to.
            pub fn service(self) -> Service {
                match self {
                    $(Operation::$variant => Service::$service,)*
                }
            }
        }
    };
}

operations! {
    AssumeRole => "sts:AssumeRole", Sts;
    GetCallerIdentity => "sts:GetCallerIdentity", Sts;
    DescribeOrganization => "organizations:DescribeOrganization", Organizations;
    ListAccounts => "organizations:ListAccounts", Organizations;
    ListRoots => "organizations:ListRoots", Organizations;
    ListOrganizationalUnitsForParent => "organizations:ListOrganizationalUnitsForParent", Organizations;
    ListChildren => "organizations:ListChildren", Organizations;
    ListAccountsForParent => "organizations:ListAccountsForParent", Organizations;
    ListParents => "organizations:ListParents", Organizations;
    DescribeRegions => "ec2:DescribeRegions", Ec2;
    DescribeInstances => "ec2:DescribeInstances", Ec2;
    DescribeSecurityGroups => "ec2:DescribeSecurityGroups", Ec2;
    DescribeVolumes => "ec2:DescribeVolumes", Ec2;
    ListBuckets => "s3:ListBuckets", S3;
    GetBucketLocation => "s3:GetBucketLocation", S3;
    GetPublicAccessBlock => "s3:GetPublicAccessBlock", S3;
    GetBucketPolicyStatus => "s3:GetBucketPolicyStatus", S3;
    GetBucketEncryption => "s3:GetBucketEncryption", S3;
    GetBucketVersioning => "s3:GetBucketVersioning", S3;
    GetBucketOwnershipControls => "s3:GetBucketOwnershipControls", S3;
    GetBucketLogging => "s3:GetBucketLogging", S3;
    GetBucketTagging => "s3:GetBucketTagging", S3;
    GetBucketAcl => "s3:GetBucketAcl", S3;
    GetAccountPublicAccessBlock => "s3control:GetPublicAccessBlock", S3Control;
}

/// The services the fake speaks, each with its own wire protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    /// STS, awsQuery protocol.
    Sts,
    /// Organizations, JSON 1.1.
    Organizations,
    /// EC2, ec2Query protocol.
    Ec2,
    /// S3, REST/XML path-style.
    S3,
    /// S3 Control, REST/XML.
    S3Control,
}

impl Operation {
    /// Whether the operation pages with a token (so paging faults apply).
    pub fn is_paginated(self) -> bool {
        matches!(
            self,
            Operation::ListAccounts
                | Operation::ListRoots
                | Operation::ListOrganizationalUnitsForParent
                | Operation::ListChildren
                | Operation::ListAccountsForParent
                | Operation::ListParents
                | Operation::DescribeInstances
                | Operation::DescribeSecurityGroups
                | Operation::DescribeVolumes
                | Operation::ListBuckets
        )
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not a known `service:Operation` name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownOperation(pub String);

impl fmt::Display for UnknownOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown operation {:?} (expected e.g. \"ec2:DescribeInstances\")",
            self.0
        )
    }
}

impl std::error::Error for UnknownOperation {}

impl FromStr for Operation {
    type Err = UnknownOperation;

    /// Accepts `service:Operation`, or a bare operation name when it is
    /// unambiguous (`DescribeInstances`; not `GetPublicAccessBlock`, which S3
    /// and S3 Control share, where the bare name means S3's).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(operation) = Operation::ALL.iter().find(|op| op.as_str() == text) {
            return Ok(*operation);
        }
        Operation::ALL
            .iter()
            .find(|op| op.as_str().split_once(':').map(|(_, name)| name) == Some(text))
            .copied()
            .ok_or_else(|| UnknownOperation(text.to_owned()))
    }
}

impl Serialize for Operation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Operation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bare_names_resolve() {
        for operation in Operation::ALL {
            assert_eq!(operation.as_str().parse::<Operation>(), Ok(*operation));
        }
        assert_eq!("DescribeVolumes".parse(), Ok(Operation::DescribeVolumes));
        assert_eq!(
            "GetPublicAccessBlock".parse(),
            Ok(Operation::GetPublicAccessBlock)
        );
        assert!("ec2:RunInstances".parse::<Operation>().is_err());
    }
}
