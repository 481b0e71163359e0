//! The key manager rules, one test per rule.

use super::*;
