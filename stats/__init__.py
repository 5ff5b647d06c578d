"""Statistics for leaders and the public: response times, the three rates, unit rankings, reports."""
