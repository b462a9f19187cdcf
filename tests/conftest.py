"""Shared pytest set-up. Fixtures live in one module per part, loaded as plugins, so each part owns its own."""

import os
import re

# With pytest-xdist each worker gets its own Redis database (the Celery tests fill and empty named queues):
# worker N uses the configured number minus N.
_worker = re.fullmatch(r"gw(\d+)", os.environ.get("PYTEST_XDIST_WORKER", ""))
_redis = os.environ.get("PHONEGATE_TEST_REDIS_URL", "")
if _worker and re.search(r"/\d+$", _redis):
    _number = int(_redis.rsplit("/", 1)[1])
    os.environ["PHONEGATE_TEST_REDIS_URL"] = f"{_redis.rsplit('/', 1)[0]}/{(_number - int(_worker.group(1))) % 16}"

pytest_plugins = [
    "fixtures_server",
    "fixtures_phones",
    "fixtures_adb_server",
    "fixtures_apks",
    "fixtures_split_apks",
    "fixtures_web",
    "fixtures_enrolment",
    "fixtures_compliance",
    "fixtures_oidc",
]
