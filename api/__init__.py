"""HTTP JSON layer of Nongjia: app factory, config, errors, auth and the v1 blueprints."""
