"""The printable QR label: a QR code with the amount, what it is for, the shop and the expiry under it."""
