CREATE TABLE broken_test_fine (id int);
