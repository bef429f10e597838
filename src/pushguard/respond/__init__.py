"""Response actions per vendor, notifications, dry-run and the audit log."""
