-- Label Studio and the platform keep separate databases on the same PostgreSQL server.
CREATE DATABASE label_studio OWNER medlabel;
