"""Pages and JSON endpoints of the platform web service, one blueprint per area."""
