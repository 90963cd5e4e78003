"""Shared pytest settings for routerha's tests."""
