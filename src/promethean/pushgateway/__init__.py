"""The Pushgateway: groups of pushed metrics, exposed for scraping with honor_labels."""
