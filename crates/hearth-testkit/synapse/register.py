"""Registers Synapse users with the config's shared secret: one argument per user,
`LOCALPART PASSWORD`; an existing user is left as it is. Messages go to stderr.

Shared by `hearth_testkit::synapse` and `bench/channels_matrix.py`.
Usage: python register.py HOMESERVER_YAML BASE_URL "LOCALPART PASSWORD"...
"""
import sys

import yaml
from synapse._scripts.register_new_matrix_user import request_registration

config = yaml.safe_load(open(sys.argv[1]))
for pair in sys.argv[3:]:
    user, password = pair.split(" ", 1)
    request_registration(user, password, sys.argv[2], config["registration_shared_secret"],
                         exists_ok=True, _print=lambda line: print(line, file=sys.stderr))
