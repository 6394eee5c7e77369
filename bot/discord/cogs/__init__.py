"""One cog per feature, each an extension ending in ``async def setup(bot)``."""

EXTENSIONS = (
    "bot.discord.cogs.basics",
    "bot.discord.cogs.imagine",
    "bot.discord.cogs.classify",
    "bot.discord.cogs.rank",
    "bot.discord.cogs.describe",
    "bot.discord.cogs.buttons",
    "bot.discord.cogs.settings",
    "bot.discord.cogs.jobs",
    "bot.discord.cogs.teach",
)
