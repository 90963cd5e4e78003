"""Tests of the native-configuration parsers (VyOS set lines, config.boot, keepalived.conf)."""
