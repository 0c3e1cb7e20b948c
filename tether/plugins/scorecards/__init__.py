"""The Scorecards plugin: health scores for companies and relationships."""
