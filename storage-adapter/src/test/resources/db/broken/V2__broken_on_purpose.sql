CREATE TABLE broken_test_ok (id int);
SELECT no_such_function();
