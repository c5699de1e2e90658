import logging
import re

# Values that look like secrets (JWTs, and the values of secret-named keys) are masked in
# every log record, including records from third-party libraries such as smartapi-python.
_JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")
_SECRET_PAIR = re.compile(
    r"""(?ix)
    (["']?(?:password|passwd|totp|secret|api[_-]?key|x-privatekey|authorization|token|
    jwttoken|refreshtoken|feedtoken|access_token|refresh_token)["']?\s*[:=]\s*)
    (["']?)(?:bearer\s+)?[^"',\s}&]+
    """
)


def redact(text: str) -> str:
    text = _JWT.sub("[redacted]", text)
    return _SECRET_PAIR.sub(r"\1\2[redacted]", text)


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
