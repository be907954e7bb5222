"""Switchboard's NLU extensions: deterministic entity rules and their Rasa component.

Import :mod:`bot.nlu.normalise` for the pure rules and :mod:`bot.nlu.component` for
the Rasa graph component; this package imports neither, so using the rules does
not load Rasa.
"""
