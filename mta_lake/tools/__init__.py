"""Tools for operators: the ``mta-lake`` command and its GraphQL client for a running instance."""
