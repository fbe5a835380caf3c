"""Accounts, roles and their scope: who may see and do what (used by the app, the CLI, the API).

- :mod:`riskmap.auth.passwords`: Argon2id hashing and the password rules.
- :mod:`riskmap.auth.roles`: the roles, what each may do, and :class:`Principal`, the person
  (or system token) a request acts for, with the regions or districts it may see.
"""
