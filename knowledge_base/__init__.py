"""Switchboard help-centre knowledge base: Markdown articles and their retriever."""

from knowledge_base.articles import Article, load_articles
from knowledge_base.retrieval import (
    CACHE_FILE_NAME,
    CALIBRATION,
    DEFAULT_ARTICLES_DIR,
    KNOWLEDGE_BASE_DIR_ENV,
    MIN_COVERAGE,
    MIN_SCORE,
    Calibration,
    KnowledgeBase,
    Match,
    served_knowledge_base,
)
from knowledge_base.semantic import Embedder, EmbeddingCache, minilm_embedder

__all__ = [
    "CACHE_FILE_NAME",
    "CALIBRATION",
    "DEFAULT_ARTICLES_DIR",
    "KNOWLEDGE_BASE_DIR_ENV",
    "MIN_COVERAGE",
    "MIN_SCORE",
    "Article",
    "Calibration",
    "EmbeddingCache",
    "Embedder",
    "KnowledgeBase",
    "Match",
    "load_articles",
    "minilm_embedder",
    "served_knowledge_base",
]
