"""The reader's language, money and clock: who reads a message decides how it is worded and written.

``locales`` knows the languages the bot speaks and maps Telegram's language codes onto them;
``catalogues`` loads the gettext catalogues; ``reader`` holds whose message is being written
(language and time zone) for the code running now; ``clock`` writes times in the reader's zone.
"""
