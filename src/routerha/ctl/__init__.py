"""routerhactl: the control CLI of routerhad."""
