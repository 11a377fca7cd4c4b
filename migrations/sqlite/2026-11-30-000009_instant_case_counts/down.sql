DROP TABLE instant_case_counts;
