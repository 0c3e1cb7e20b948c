"""Import every module that defines tables, so ``Base.metadata`` is complete.

Built-in areas add their model modules here; Alembic's autogenerate and the
schema-matches-migrations test both rely on it.
"""

from . import models  # noqa: F401
from ..renewals import models as renewal_models  # noqa: F401
from .. import relationship_rules as domain_models  # noqa: F401
from ..jobs import models as job_models  # noqa: F401
from ...plugins.timeline import models as timeline_models  # noqa: F401
from ...plugins.scorecards import models as scorecard_models  # noqa: F401
from ..sync import writeback_models  # noqa: F401
from ...plugins.filedrop import models as filedrop_models  # noqa: F401
from ...plugins.cockpit import models as cockpit_models  # noqa: F401
