"""The platform-free briefing engine: corpus loading and cleaning, segmentation, indexing, summaries, answers."""

from briefings.engine import BriefingEngine

__all__ = ["BriefingEngine"]
