"""Switchboard help-centre knowledge base: Markdown articles and their retriever."""

from knowledge_base.retrieval import (
    DEFAULT_ARTICLES_DIR,
    KNOWLEDGE_BASE_DIR_ENV,
    MIN_COVERAGE,
    MIN_SCORE,
    Article,
    KnowledgeBase,
    Match,
    load_articles,
)

__all__ = [
    "DEFAULT_ARTICLES_DIR",
    "KNOWLEDGE_BASE_DIR_ENV",
    "MIN_COVERAGE",
    "MIN_SCORE",
    "Article",
    "KnowledgeBase",
    "Match",
    "load_articles",
]
