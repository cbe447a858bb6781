"""medlabel."""
