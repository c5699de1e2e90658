"""A password hasher that counts its work, to show that every path hashes the same amount."""

from django.contrib.auth.hashers import MD5PasswordHasher


class CountingHasher(MD5PasswordHasher):
    """MD5 (the tests' quick hasher), counting each hash computed: making a hash and
    checking a password against one both compute one."""

    calls = 0

    def encode(self, password: str, salt: str) -> str:
        CountingHasher.calls += 1
        return super().encode(password, salt)
