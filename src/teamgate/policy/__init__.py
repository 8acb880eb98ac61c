"""What a team may ask for: allowlists, aliases and token caps."""
