"""``python -m course_utils prepare`` converts installed offline weights; ``list`` shows which models load now."""

from .models import main

raise SystemExit(main())
