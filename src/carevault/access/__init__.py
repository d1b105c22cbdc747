"""Who may do what: authentication (passwords, TOTP, tokens, sessions) and authorization."""
