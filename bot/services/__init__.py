"""Business rules, shared by the Rasa actions, the command line and the web app."""
