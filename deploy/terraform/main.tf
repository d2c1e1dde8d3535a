# fleetscan's member role in every account of the organization, through a
# service-managed CloudFormation StackSet built from ../member-role.cfn.yaml
# (the same template as the CLI rollout in ../README.md, so there is one
# definition of the role), plus the scanning principal's policy.
#
# Apply in the management account (or a StackSets delegated administrator,
# with call_as = "DELEGATED_ADMIN") after trusted access for StackSets is on.

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0"
    }
  }
}

variable "scanning_principal_arn" {
  description = "ARN of the role fleetscan runs as, e.g. arn:aws:iam::111122223333:role/fleetscan-scanner."
  type        = string
}

variable "scanning_role_name" {
  description = "Name of that role, in this account, to attach the scanner policy to (null: attach it yourself)."
  type        = string
  default     = null
}

variable "organization_id" {
  description = "The organization id (o-...)."
  type        = string
}

variable "target_ou_ids" {
  description = "Where to deploy: the root id (r-...) for every member account, or OU ids."
  type        = list(string)
}

variable "external_id" {
  description = "Optional sts:ExternalId (fleetscan's role.external_id); empty for none."
  type        = string
  default     = ""
  sensitive   = true
}

variable "role_name" {
  type    = string
  default = "FleetscanReadOnly"
}

variable "role_path" {
  type    = string
  default = "/"
}

variable "stack_region" {
  description = "The one region the stacks are created in (IAM is global: one region only)."
  type        = string
  default     = "us-east-1"
}

variable "call_as" {
  description = "SELF in the management account, DELEGATED_ADMIN in a StackSets delegated administrator."
  type        = string
  default     = "SELF"
}

resource "aws_cloudformation_stack_set" "fleetscan_member_role" {
  name             = "fleetscan-member-role"
  description      = "fleetscan read-only member role"
  permission_model = "SERVICE_MANAGED"
  call_as          = var.call_as
  capabilities     = ["CAPABILITY_NAMED_IAM"]
  template_body    = file("${path.module}/../member-role.cfn.yaml")

  parameters = {
    ScanningPrincipalArn = var.scanning_principal_arn
    OrganizationId       = var.organization_id
    ExternalId           = var.external_id
    RoleName             = var.role_name
    RolePath             = var.role_path
  }

  # New accounts get the role when they join; leaving accounts lose it.
  auto_deployment {
    enabled                          = true
    retain_stacks_on_account_removal = false
  }

  operation_preferences {
    failure_tolerance_percentage = 10
    max_concurrent_percentage    = 25
  }

  lifecycle {
    # Set by AWS for service-managed StackSets.
    ignore_changes = [administration_role_arn]
  }
}

resource "aws_cloudformation_stack_set_instance" "fleetscan_member_role" {
  stack_set_name            = aws_cloudformation_stack_set.fleetscan_member_role.name
  call_as                   = var.call_as
  stack_set_instance_region = var.stack_region

  deployment_targets {
    organizational_unit_ids = var.target_ou_ids
  }
}

# The scanning principal: list the organization, assume the member role only.
# Same actions as ../scanner-policy.json, with the role name filled in.
resource "aws_iam_policy" "fleetscan_scanner" {
  name        = "fleetscan-scanner"
  description = "fleetscan: list the organization and assume the member role"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "FleetscanListOrganization"
        Effect = "Allow"
        Action = [
          "organizations:DescribeOrganization",
          "organizations:ListAccounts",
          "organizations:ListAccountsForParent",
          "organizations:ListOrganizationalUnitsForParent",
          "organizations:ListRoots",
        ]
        Resource = "*"
      },
      {
        Sid      = "FleetscanAssumeMemberRole"
        Effect   = "Allow"
        Action   = "sts:AssumeRole"
        Resource = "arn:aws:iam::*:role${var.role_path}${var.role_name}"
      },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "fleetscan_scanner" {
  count      = var.scanning_role_name == null ? 0 : 1
  role       = var.scanning_role_name
  policy_arn = aws_iam_policy.fleetscan_scanner.arn
}

output "member_role_arn_pattern" {
  description = "What fleetscan assumes in each account (role.name / role.path in its configuration)."
  value       = "arn:aws:iam::<account>:role${var.role_path}${var.role_name}"
}
